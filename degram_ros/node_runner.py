"""Running a node as `ros2 run` does: spin until Ctrl-C, stop cleanly, and turn a start-up
problem into one fatal log line and exit status 2."""
from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor


class StartupError(RuntimeError):
    """A configuration problem that must stop the node before it starts."""


def run_node(node_class, name: str, args=None, threads: int = 1) -> None:
    """`threads` > 1: a multi-threaded executor, on which a callback group of the node's own
    (speaker_id's services) runs beside the others; callbacks of one group still run one at a
    time. One thread is the plain executor the other nodes are timed on."""
    rclpy.init(args=args)
    node = None
    # Multi-threaded where a node asks for it: its callback groups (audio, services) run side
    # by side, so a slow service call never holds up the audio.
    executor = (MultiThreadedExecutor(num_threads=threads) if threads > 1
                else SingleThreadedExecutor())
    try:
        node = node_class(name)
        # Lifecycle nodes with autostart: configure and activate now, as one step; a failure
        # is the same one fatal line a plain node gives.
        if hasattr(node, "start_up") and node.get_parameter("autostart").value:
            node.start_up()
        executor.add_node(node)
        executor.spin()
    except StartupError as error:
        rclpy.logging.get_logger(name).fatal(str(error))
        raise SystemExit(2) from None
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=5.0)
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown()
    if getattr(node, "failure", None):  # the node gave up on its own and said why
        raise SystemExit(1)
