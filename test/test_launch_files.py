"""Launch files: every executable, config file and parameter they name exists; and, where
launch_ros is installed (a real ROS 2), they describe the nodes."""
import ast
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
CMAKE = (ROOT / "CMakeLists.txt").read_text()


def installed_executables() -> set[str]:
    block = re.search(r"install\(PROGRAMS(.*?)DESTINATION lib/\$\{PROJECT_NAME\}\)", CMAKE, re.S)
    return {Path(p).name for p in block.group(1).split()}


def strings(path: Path) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def declared_parameters(node: str) -> set[str]:
    """Parameter names a node declares (the dicts of name: (default, description); not
    inference_node's LIVE_PARAMETERS, name: (lowest, highest))."""
    sources = [ROOT / "degram_ros" / f"{node}_node.py"]
    if node in ("sound_events", "speaker_id"):
        sources.append(ROOT / "degram_ros" / "inference_node.py")
    names = set()
    for source in sources:
        for n in ast.walk(ast.parse(source.read_text())):
            if isinstance(n, ast.Dict) and n.keys and all(
                    isinstance(v, ast.Tuple) and len(v.elts) == 2
                    and isinstance(v.elts[1], (ast.Constant, ast.JoinedStr))
                    and isinstance(getattr(v.elts[1], "value", ""), str) for v in n.values):
                names |= {k.value for k in n.keys if isinstance(k, ast.Constant)}
    return names


def test_the_launch_files_exist():
    assert {"sound_events.launch.py", "speaker_id.launch.py",
            "degram.launch.py"} <= {p.name for p in LAUNCH_FILES}


@pytest.mark.parametrize("launch", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_only_what_exists(launch):
    text = strings(launch)
    executables = installed_executables()
    named = {s for s in text if s in {"microphone", "sound_events", "speaker_id", "file_player"}}
    assert named, "the launch file starts no node"
    assert named <= executables, f"{named - executables} not installed by CMakeLists.txt"
    # every node it starts gets its own parameter file from the installed config folder
    configs = {s for s in text if s.endswith(".yaml")}
    assert configs == {f"{node}.yaml" for node in named}, configs
    assert "config" in text and "get_package_share_directory" in launch.read_text()
    for node in named:
        config = ROOT / "config" / f"{node}.yaml"
        assert config.is_file()
        params = yaml.safe_load(config.read_text())["/**"]["ros__parameters"]
        unknown = set(params) - declared_parameters(node)
        assert not unknown, f"{config.name} sets parameters {unknown} that {node} does not declare"
    shared = re.search(r"install\(DIRECTORY ([\w ]+) DESTINATION share/\$\{PROJECT_NAME\}\)", CMAKE)
    # the launch files, their configs, and what the configs name by default (models, the clip)
    assert shared and {"launch", "config", "models", "data"} <= set(shared.group(1).split())


def test_every_declared_parameter_is_in_its_config():
    for node in ("microphone", "sound_events", "speaker_id", "file_player"):
        params = yaml.safe_load((ROOT / "config" / f"{node}.yaml").read_text())["/**"]["ros__parameters"]
        assert declared_parameters(node) == set(params), node


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None,
                    reason="launch_ros is not installed here (no PyPI wheel); runs on a real ROS 2")
@pytest.mark.parametrize("launch", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds(launch):
    from launch_ros.actions import Node

    spec = importlib.util.spec_from_file_location(launch.stem, launch)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    nodes = [e for e in description.entities if isinstance(e, Node)]
    assert nodes and all(n.node_package == "degram_ros" for n in nodes)
