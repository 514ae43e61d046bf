"""Running a node as `ros2 run` does: spin until Ctrl-C, stop cleanly, and turn a start-up
problem into one fatal log line and exit status 2."""
from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor


class StartupError(RuntimeError):
    """A configuration problem that must stop the node before it starts."""


def run_node(node_class, name: str, args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_class(name)
        # Two threads: a node's callbacks in one callback group still run one at a time, but
        # a group of their own (speaker_id's services) runs beside the audio subscription.
        rclpy.spin(node, executor=MultiThreadedExecutor(num_threads=2))
    except StartupError as error:
        rclpy.logging.get_logger(name).fatal(str(error))
        raise SystemExit(2) from None
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown()
