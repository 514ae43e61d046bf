"""The services of a node that keeps a gallery: add a named entry from given audio or from the
last `recent_seconds` heard, forget one, list them. speaker_id enrolls voices (`~/enroll`),
sound_events teaches sounds (`~/teach`); both are this one code, around the one enrollment path
of degram_core.galleries.enrollment, and differ only in how audio becomes an embedding
(`gallery_embedding`) and in their words.

Services run in a callback group of their own on a multi-threaded executor (node_runner),
windows on the worker thread: adding an entry (a model pass over a few seconds) never holds up
the audio subscription, and recent audio is read from the ring buffer, which holds it already.
Each service queues up to SERVICE_QUEUE_DEPTH requests; beyond that DDS drops the oldest
unanswered ones. Every request is checked (degram_core.runtime.checks) and any failure is
answered as a refusal: an exception escaping a service callback would stop the executor, and
the node with it. Gallery changes and reads are serialised by the gallery's lock.
"""
from __future__ import annotations

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy

from degram_core.galleries.gallery import Gallery, GalleryError, checkpoint_identity
from degram_core.runtime.checks import (Refused, check_enroll_audio, check_name,
                                        check_recent_seconds)
from degram_ros.srv import Enroll, Forget, ListSpeakers

from .node_runner import StartupError

# Requests a service holds while one is served; 20 clients calling at once lost up to half
# their requests at rclpy's default of 10.
SERVICE_QUEUE_DEPTH = 100


def rms_db(audio: np.ndarray) -> float:
    """Level in dB relative to full scale (a full-scale sine is -3 dB)."""
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


class GalleryServices:
    """Mixin of an InferenceNode. The node sets GALLERY_KIND ("speakers" or "sounds"),
    ADD_SERVICE ("~/enroll" or "~/teach"), WORDS (entry, added, what its audio holds) and
    implements gallery_embedding(classifier, audio, rate) -> (unit embedding, active seconds)
    and check_entry_name(name)."""

    GALLERY_KIND = "speakers"
    ADD_SERVICE = "~/enroll"
    WORDS = {"entry": "speaker", "added": "enrolled", "verb": "enroll", "holds": "speech"}

    def open_gallery(self) -> None:
        path = self.param("gallery")
        try:
            self.gallery = Gallery(path, checkpoint_identity(self.checkpoint_path), self.GALLERY_KIND)
        except (GalleryError, OSError) as error:
            # Never start with an empty gallery instead: the entries in the file would be
            # overwritten by the next one added.
            raise StartupError(f"cannot use the {self.WORDS['entry']} gallery given by parameter "
                               f"'gallery' ({path!r}): {error}") from None

    def create_gallery_services(self) -> None:
        requests = QoSProfile(depth=SERVICE_QUEUE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.gallery_services = [
            self.create_service(srv, name, callback, qos_profile=requests,
                                callback_group=self.service_group)
            for srv, name, callback in ((Enroll, self.ADD_SERVICE, self.on_add),
                                        (Forget, "~/forget", self.on_forget),
                                        (ListSpeakers, "~/list", self.on_list))]

    def destroy_gallery_services(self) -> None:
        for service in getattr(self, "gallery_services", []):
            self.destroy_service(service)
        self.gallery_services = []

    def request_audio(self, request, classifier) -> tuple[np.ndarray, int]:
        if len(request.audio):
            rate = check_enroll_audio(len(request.audio), request.sample_rate)
            return np.asarray(request.audio, dtype=np.float32), rate
        return self.recent_audio(request.recent_seconds), classifier.sample_rate

    def on_add(self, request: Enroll.Request, response: Enroll.Response) -> Enroll.Response:
        words, name = self.WORDS, request.name
        # a cleanup may free them while this request runs: hold on to this request's
        classifier, gallery = self.classifier, self.gallery
        try:
            if classifier is None or gallery is None:
                raise Refused("the node is not configured (lifecycle state unconfigured)")
            name = self.check_entry_name(check_name(request.name))
            audio, rate = self.request_audio(request, classifier)
            embedding, active_s = self.gallery_embedding(classifier, audio, rate)
            response.clips = gallery.enroll(name, embedding)
        except Exception as error:  # see the module's docstring
            response.success, response.message = False, f"not {words['added']}: {error}"
            self.get_logger().warning(f"{words['verb']} {name[:80]!r} refused: {error}")
            return response
        response.success = True
        response.message = (f"{words['added']} {name} from {active_s:.1f} s of {words['holds']} in "
                            f"{len(audio) / rate:.1f} s of audio ({response.clips} clip(s) in total)")
        self.get_logger().info(f"{response.message}; gallery {gallery.path}")
        return response

    def recent_audio(self, seconds: float) -> np.ndarray:
        """The last `seconds` the node heard, at the model's rate, from the ring buffer."""
        rate = self.stream.rate  # the model's
        seconds = check_recent_seconds(seconds, held_s=self.stream.capacity / rate)
        audio, written = self.stream.recent(round(seconds * rate))
        if audio is None:
            heard = written / rate
            raise Refused("no audio heard yet" if written == 0 else
                          f"only {heard:.1f} s of audio heard since the stream started; "
                          f"ask for at most that, or wait")
        return audio

    def on_forget(self, request: Forget.Request, response: Forget.Response) -> Forget.Response:
        try:
            name = check_name(request.name)
            response.success = self.gallery.forget(name)
        except Refused as error:
            response.success, response.message = False, f"not forgotten: {error}"
            return response
        except Exception as error:  # see the module's docstring
            response.success, response.message = False, f"gallery not written: {error}"
            return response
        response.message = (f"forgot {name}" if response.success else
                            f"no {self.WORDS['entry']} {name!r} ({self.WORDS['added']}: "
                            f"{', '.join(self.gallery.names()) or 'none'})")
        self.get_logger().info(response.message)
        return response

    def on_list(self, request: ListSpeakers.Request,
                response: ListSpeakers.Response) -> ListSpeakers.Response:
        with self.gallery.lock:  # names and counts from one state of the gallery
            response.names = self.gallery.names()
            response.clips = [self.gallery.clips(n) for n in response.names]
        return response
