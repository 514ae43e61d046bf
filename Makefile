# The two entry points of the README: `make test` and `make demo`. Both set up everything
# first (Debian packages, .venv, the colcon build); a second run only does what changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
WS := .ws
# gstreamer: gst-launch-1.0 and lamemp3enc make MP3 as audio_capture does, for the tests
APT_PACKAGES := pulseaudio pulseaudio-utils libasound2-plugins portaudio19-dev sox espeak-ng \
	gstreamer1.0-tools gstreamer1.0-plugins-good
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# A colcon workspace of our own, .ws/, with this repository under src/ as users have it. It
# links to the repository rather than building it in place: CMake refuses a package whose
# exported include paths (numpy's, inside .venv/) lie under its own source folder.
# The test-only audio_common_msgs joins it only where the real one is not installed.
HAVE_AUDIO_MSGS := $(shell $(PY) -c "import audio_common_msgs" 2>/dev/null && echo yes)
# ROS 2 from wheels: colcon finds the venv's ROS packages (rosidl, std_msgs) only through the
# ament index; DDS over shared memory only, in a domain of its own so parallel runs never cross.
ROS_ENV := source $(VENV)/bin/activate && export AMENT_PREFIX_PATH=$$VIRTUAL_ENV \
	FASTDDS_BUILTIN_TRANSPORTS=SHM ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$((RANDOM % 100 + 1))}

.PHONY: test demo build system-deps clean

test: build
	$(VENV)/bin/ruff check .
	$(ROS_ENV) && cd $(WS) && rc=0 && colcon test \
		--event-handlers console_direct+ --return-code-on-test-failure || rc=$$?; \
		colcon test-result --verbose; python3 ../tools/test_summary.py build; exit $$rc

# The shipped models on the shipped scene (data/demo/scene.wav), in real time, with a live
# timeline; e.g. make demo DEMO_ARGS="--rate-factor 2 --no-speaker" (options: demo --help).
demo: build
	$(ROS_ENV) && set +u && source $(WS)/install/setup.bash && set -u && \
		$(WS)/install/degram_ros/lib/degram_ros/demo $(DEMO_ARGS)

build: $(VENV)/.installed
	mkdir -p $(WS)/src
	ln -sfn ../.. $(WS)/src/degram_ros
	$(if $(HAVE_AUDIO_MSGS),rm -f $(WS)/src/audio_common_msgs,ln -sfn ../../test/audio_common_msgs $(WS)/src/audio_common_msgs)
	$(ROS_ENV) && cd $(WS) && colcon build --event-handlers console_cohesion-

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: requirements/core.txt requirements/ros.txt requirements/test.txt setup.py | system-deps
	[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -r requirements/core.txt -r requirements/ros.txt -r requirements/test.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) tools/fix_ros_wheels.py
	touch $@

clean:
	rm -rf $(WS)
