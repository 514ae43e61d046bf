"""The pieces of an open world: the event rule (background is never an event), speaker
verification figures, the AAM head and embedding layer, background mixing, and operating
points chosen on validation data and stored with a model."""
import math

import numpy as np
import pytest
import soundfile
import torch

from degram_core import build_model, load_model, save_checkpoint
from degram_core.scoring.calibration import event_threshold, store, windows
from degram_core.runtime.events import reported, wrong_score
from degram_core.nn.heads import AAMSoftmax
from degram_core.runtime.classifier import Classifier
from degram_core.runtime.operating_points import EVENT_THRESHOLDS, event_thresholds, own, resolve
from degram_core.data.mixing import (Augment, NoiseBank, RoomBank, band_limit, mix_at_snr, power,
                                room_tone)
from degram_core.runtime.embeddings import l2_normalise as unit
from degram_core.runtime.embeddings import tnorm
from degram_core.scoring.verification import (enroll, equal_error_rate, identification_accuracy,
                                              open_set, open_set_threshold, trials)

LABELS = ["background", "dog", "speech"]


# --- which events a window reports -------------------------------------------------------

def test_a_background_window_reports_nothing():
    assert reported(np.array([0.5, 0.45, 0.05]), LABELS, 0.3, 3) == []


def test_background_is_never_an_event_and_the_threshold_and_top_k_hold():
    probs = np.array([0.35, 0.4, 0.25])
    assert reported(probs, LABELS, 0.3, 3) == [(1, pytest.approx(0.4))]
    assert reported(probs, LABELS, 0.2, 3) == [(1, pytest.approx(0.4)), (2, pytest.approx(0.25))]
    assert reported(probs, LABELS, 0.2, 1) == [(1, pytest.approx(0.4))]
    # a model without background names its best classes
    assert reported(np.array([0.6, 0.4]), ["cat", "dog"], 0.3, 3)[0][0] == 0


def test_wrong_score_is_what_a_threshold_must_exceed():
    assert wrong_score(np.array([0.6, 0.3, 0.1]), LABELS, set()) == 0.0  # background wins
    assert wrong_score(np.array([0.1, 0.3, 0.6]), LABELS, {"speech"}) == pytest.approx(0.3)
    assert wrong_score(np.array([0.1, 0.3, 0.6]), LABELS, set()) == pytest.approx(0.6)


# --- verification ------------------------------------------------------------------------

def clustered(speakers=6, clips=6, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((speakers, 16)))
    emb = unit(np.repeat(centres, clips, 0) + spread * rng.standard_normal((speakers * clips, 16)))
    return emb, [f"s{i}" for i in range(speakers) for _ in range(clips)]


def test_separable_speakers_have_no_errors_and_random_ones_half():
    emb, names = clustered()
    e = enroll(emb, names, 3, np.random.default_rng(0))
    assert equal_error_rate(*trials(e))[0] == 0.0
    assert identification_accuracy(e) == 1.0
    known, rejected = open_set(e, ["s0", "s1", "s2"], threshold=0.8)
    assert known == 1.0 and rejected == 1.0
    noise = unit(np.random.default_rng(1).standard_normal(emb.shape))
    e = enroll(noise, names, 3, np.random.default_rng(0))
    assert 0.25 < equal_error_rate(*trials(e))[0] < 0.75


def test_the_open_set_threshold_balances_people_named_and_strangers_rejected():
    # Loose clusters: single trials overlap a little, and a stranger's best match among a
    # gallery is higher than a single impostor trial, so the gallery threshold sits higher.
    emb, names = clustered(speakers=12, clips=8, spread=0.35, seed=2)
    e = enroll(emb, names, 3, np.random.default_rng(0))
    _, eer_threshold = equal_error_rate(*trials(e))
    threshold = open_set_threshold(emb, names, 8, 3, np.random.default_rng(0))
    assert threshold > eer_threshold
    known, rejected = [], []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        e = enroll(emb, names, 3, rng)
        a, b = open_set(e, list(rng.choice(e.names, 8, replace=False)), threshold)
        known.append(a)
        rejected.append(b)
    assert abs(np.mean(known) - np.mean(rejected)) < 0.15
    # On its own draws (replayed: the same generator, drawn in the same order) the two rates
    # meet, to within one of the 400 strangers' clips or 800 known clips pooled there.
    rng, known, rejected = np.random.default_rng(0), [], []
    for _ in range(20):
        e = enroll(emb, names, 3, rng)
        a, b = open_set(e, list(rng.choice(e.names, 8, replace=False)), threshold)
        known.append(a)
        rejected.append(b)
    assert abs(np.mean(known) - np.mean(rejected)) <= 1 / 400
    with pytest.raises(ValueError, match="gallery of 12"):
        open_set_threshold(emb, names, 12, 3, np.random.default_rng(0))


def test_tnorm_rejects_a_window_like_everyone_and_keeps_the_ranking(tmp_path):
    from degram_core.galleries.gallery import Gallery

    # Voices share a common direction (they are all speech, through the same model); each
    # speaker adds a direction of its own. A "hub" window is the common part alone: noise
    # or a muffled voice that resembles everyone and no one.
    rng = np.random.default_rng(3)
    common = unit(rng.standard_normal(64))
    def voices(n):
        return unit(common + unit(rng.standard_normal((n, 64))))
    cohort = voices(40)  # the model's training speakers
    alice, bob = voices(2)
    gallery = Gallery(tmp_path / "g.json", "m")
    gallery.enroll("alice", alice)
    gallery.enroll("bob", bob)
    clear = unit(alice + 0.5 * unit(rng.standard_normal(64)))  # alice, in a new window
    hub = common
    cosine = {name: gallery.identify(v, -1.0).score for name, v in (("clear", clear),
                                                                    ("hub", hub))}
    normed = {name: gallery.identify(v, -np.inf, cohort=cohort @ v)
              for name, v in (("clear", clear), ("hub", hub))}
    # by cosine the hub is as much alice as a shipped-model threshold (about 0.6) asks ...
    assert cosine["hub"] > 0.6 and cosine["clear"] > 0.6
    # ... against the cohort it is nobody in particular, while alice stands out
    assert normed["hub"].score < 1.0 < 3.0 < normed["clear"].score
    assert gallery.identify(clear, 2.0, cohort=cohort @ clear).name == "alice"
    assert gallery.identify(hub, 2.0, cohort=cohort @ hub).name == "unknown"
    # T-norm is one shift and scale per window: the enrolled speakers keep their order
    plain = [n for n, _ in gallery.identify(hub, -1.0).candidates]
    assert [n for n, _ in normed["hub"].candidates] == plain
    scores = np.array([[0.9, 0.1]])
    np.testing.assert_allclose(tnorm(scores, (cohort @ hub)[None]),
                               (scores - (cohort @ hub).mean()) / (cohort @ hub).std())


def test_a_model_with_tnorm_scale_gives_its_cosines_with_its_training_speakers(tmp_path):
    model = build_model("degram-resnet-tiny", 5, embedding_dim=24, head="aam", scale=30.0)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, list("abcde"))
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    assert Classifier(path, device="cpu").speaker_vector(wave, 16000)[1] is None  # not asked
    store(str(path), {"tnorm_scale": 30.0}, {})
    embedding, cohort = Classifier(path, device="cpu").speaker_vector(wave, 16000)
    centres = torch.nn.functional.normalize(model.fc.weight).detach().numpy()
    np.testing.assert_allclose(cohort, centres @ embedding, atol=1e-5)
    assert np.linalg.norm(embedding) == pytest.approx(1.0)
    # the exported model carries it and gives the same, from its logits
    onnx = Classifier(path, device="cpu", backend="onnxruntime")
    assert onnx.tnorm_scale == 30.0
    np.testing.assert_allclose(onnx.speaker_vector(wave, 16000)[1], cohort, atol=1e-4)


def test_tnorm_in_the_figures_changes_trials_and_not_identification():
    emb, names = clustered(speakers=8, clips=6, spread=0.3, seed=4)
    cohort = emb @ unit(np.random.default_rng(5).standard_normal((30, 16))).T
    plain = enroll(emb, names, 3, np.random.default_rng(0))
    normed = enroll(emb, names, 3, np.random.default_rng(0), cohort)
    assert identification_accuracy(plain) == identification_accuracy(normed)
    assert not np.allclose(trials(plain)[0], trials(normed)[0])
    np.testing.assert_allclose(normed.scores(), tnorm(plain.scores(), normed.test_cohort))


def test_enrollment_uses_k_clips_and_tests_the_rest():
    emb, names = clustered(speakers=3, clips=5)
    e = enroll(emb, names, 2, np.random.default_rng(0))
    assert e.centroids.shape == (3, 16) and len(e.test_names) == 3 * 3


# --- the embedding model -----------------------------------------------------------------

def test_aam_applies_its_margin_to_the_target_only():
    head = AAMSoftmax(8, 4, margin=0.3, scale=10.0)
    x = torch.randn(5, 8)
    targets = torch.tensor([0, 1, 2, 3, 0])
    plain, margined = head(x), head(x, targets)
    cos = torch.nn.functional.linear(torch.nn.functional.normalize(x),
                                     torch.nn.functional.normalize(head.weight))
    assert torch.allclose(plain, 10.0 * cos, atol=1e-5)
    rows = torch.arange(5)
    expected = 10.0 * torch.cos(torch.acos(cos[rows, targets]) + 0.3)
    assert torch.allclose(margined[rows, targets], expected, atol=1e-4)
    others = torch.ones_like(plain, dtype=torch.bool)
    others[rows, targets] = False
    assert torch.equal(margined[others], plain[others])


def test_the_embedding_layer_is_linear_and_signed_and_checkpoints_round_trip(tmp_path):
    model = build_model("degram-resnet-tiny", 5, embedding_dim=24, head="aam").eval()
    emb = model.embed(torch.randn(3, 16000))
    assert emb.shape == (3, 24) and (emb < 0).any()  # no ReLU after the projection
    save_checkpoint(tmp_path / "m.pt", model, list("abcde"))
    again = load_model(tmp_path / "m.pt")
    x = torch.randn(2, 8000)
    assert torch.allclose(again.embed(x), model.embed(x), atol=1e-5)
    assert isinstance(again.fc, AAMSoftmax)


def test_a_plain_classifier_keeps_the_keys_of_earlier_checkpoints():
    keys = build_model("degram-resnet-tiny", 3).state_dict().keys()
    assert {"fc.weight", "fc.bias"} <= set(keys)
    assert not any(k.startswith("embedding.") for k in keys)


# --- mixing ------------------------------------------------------------------------------

def test_mix_at_snr_gives_the_snr_asked():
    rng = np.random.default_rng(0)
    signal, noise = rng.standard_normal(16000), 3 * rng.standard_normal(16000)
    mixed = mix_at_snr(signal, noise, 10.0)
    assert 10 * math.log10(power(signal) / power(mixed - signal)) == pytest.approx(10.0, abs=0.01)


def test_a_noise_bank_never_draws_from_the_held_out_end(tmp_path):
    wave = np.concatenate([np.full(7000, 0.1), np.full(3000, 0.9)]).astype(np.float32)
    soundfile.write(tmp_path / "hum.wav", wave, 16000, subtype="FLOAT")
    soundfile.write(tmp_path / "cat.wav", np.ones(100, np.float32), 16000, subtype="FLOAT")
    bank = NoiseBank.from_folder(tmp_path, exclude=["cat"])
    rng = np.random.default_rng(0)
    drawn = np.concatenate([bank.sample(2000, rng) for _ in range(200)])
    assert np.allclose(drawn, 0.1)


def test_room_tone_is_quiet_and_reverberation_keeps_length_and_level():
    rng = np.random.default_rng(0)
    tone = room_tone(16000, rng, (-60, -60))
    assert 10 * math.log10(power(tone)) == pytest.approx(-60, abs=0.1)
    rooms = RoomBank(count=2, seed=0)
    dry = rng.standard_normal(8000).astype(np.float32) * 0.1
    wet = rooms.apply(dry, rng)
    assert len(wet) == len(dry) and power(wet) == pytest.approx(power(dry), rel=1e-3)
    assert not np.allclose(wet, dry)
    augment = Augment(rooms=rooms, reverb_prob=1.0, noise_prob=1.0, room_tone_prob=1.0,
                      gain_db=(0.0, 0.0))
    out = augment(dry, np.random.default_rng(3))
    assert np.array_equal(out, augment(dry, np.random.default_rng(3)))  # seeded: resumable


def test_a_narrower_band_keeps_the_voice_band_and_removes_the_top():
    t = np.arange(16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6500 * t)).astype(np.float32)
    narrow = band_limit(wave, np.random.default_rng(0), rates=(8000,))
    spectrum = np.abs(np.fft.rfft(narrow[2000:-2000] * np.hanning(12000)))
    bin_of = lambda hz: int(hz * 12000 / 16000)  # noqa: E731
    assert len(narrow) == len(wave) and narrow.dtype == np.float32
    assert spectrum[bin_of(6500)] < 1e-3 * spectrum[bin_of(1000)]
    kept = np.abs(np.fft.rfft(wave[2000:-2000] * np.hanning(12000)))[bin_of(1000)]
    assert spectrum[bin_of(1000)] == pytest.approx(kept, rel=0.05)


# --- operating points --------------------------------------------------------------------

class Fixed:
    """A classifier stand-in with fixed window outputs, to test the choice of threshold alone."""

    sample_rate = 16000
    labels = LABELS

    def __init__(self, table):
        self.table = table

    def probabilities(self, batch):
        level = float(batch[0, 0])
        return np.repeat(self.table[level][None], len(batch), 0)


def test_the_event_threshold_is_the_lowest_that_keeps_false_events_under_the_limit():
    speech_probs = np.array([0.0, 0.45, 0.55])  # "dog" at 0.45 on speech: a false event below 0.46
    classifier = Fixed({0.25: speech_probs, 0.75: np.array([0.1, 0.8, 0.1])})
    clips = [(np.full(16000 * 60, 0.25, np.float32), "speech"),
             (np.full(16000 * 10, 0.75, np.float32), "dog")]
    result = event_threshold(classifier, clips, 2.0, 0.5, max_false_per_min=0.5)
    assert result["event_threshold"] == pytest.approx(0.46)
    assert result["event_window_recall"] == 1.0


def test_windows_centre_a_short_clip_in_silence():
    w = windows(np.ones(10, np.float32), 20, 5)
    assert w.shape == (1, 20) and w[0, 5:15].all() and not w[0, :5].any()
    # a longer clip: every full window on the grid the stream and predict_windows use
    w = windows(np.arange(100, dtype=np.float32), 20, 6)
    assert w.shape == (14, 20) and (w[:, 0] == np.arange(0, 81, 6)).all()
    assert (w[-1] == np.arange(78, 98)).all()


def test_stored_points_reach_the_classifier_and_the_export(tmp_path):
    model = build_model("degram-resnet-tiny", 3)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, LABELS)
    assert own("event_threshold", Classifier(path, device="cpu")) == 0.3  # the default
    store(str(path), {"event_threshold": 0.62, EVENT_THRESHOLDS: {"dog": 0.8}},
          {"events": {"fold": "4"}})
    for backend in ("torch", "onnxruntime"):
        classifier = Classifier(path, device="cpu", backend=backend)
        assert own("event_threshold", classifier) == 0.62
        # a parameter that is set wins; a negative one stands for the model's own
        assert resolve("event_threshold", 0.4, classifier) == 0.4
        assert resolve("event_threshold", -1.0, classifier) == 0.62
        # per-class thresholds, the global one for a label without its own
        np.testing.assert_array_equal(event_thresholds(LABELS, -1.0, classifier), [0.62, 0.8, 0.62])
        np.testing.assert_array_equal(event_thresholds(LABELS, 0.5, classifier), [0.5] * 3)


def test_per_class_thresholds_decide_each_class_report():
    probs = np.array([0.1, 0.5, 0.4])  # background, dog, speech
    assert reported(probs, LABELS, np.array([0.0, 0.6, 0.3]), 3) == [(2, 0.4)]
    assert reported(probs, LABELS, 0.3, 3) == [(1, 0.5), (2, 0.4)]


def test_the_registry_names_the_speaker_embedding():
    from degram_core.nn.models import list_models

    model = build_model("degram-speaker", 7)
    assert "degram-speaker" in list_models()
    assert model.embedding_dim == 192 and isinstance(model.fc, AAMSoftmax)


def test_each_class_gets_the_lowest_threshold_its_share_of_false_events_allows():
    """choose_event_thresholds: rain, which validation speech calls at 0.70-0.80, must sit above
    that; dog, never called there, keeps the floor; speech windows never hold speech against
    itself; a background-best window reports nothing, so it never counts."""
    from degram_core.scoring.calibration import choose_event_thresholds

    labels = ["background", "dog", "rain", "speech"]
    rng = np.random.default_rng(0)
    speech = np.tile([0.0, 0.05, 0.0, 0.95], (240, 1))  # two minutes of windows at hop 0.5 s
    speech[:40] = [0.0, 0.05, 0.75, 0.2]  # 40 windows rain at 0.75 (best class)
    speech[40:60] = [0.0, 0.05, 0.8, 0.15]
    quiet = np.tile([0.9, 0.05, 0.05, 0.0], (240, 1))
    quiet[:30] = [0.7, 0.05, 0.05, 0.6]  # speech at 0.6, but background is best: reports nothing
    events = [(np.tile([0.0, 0.6, 0.1, 0.3], (10, 1)), "dog"),
              (np.tile([0.0, 0.0, 0.85, 0.15], (10, 1)), "rain")]
    result = choose_event_thresholds(labels, [(speech, "speech"), (quiet, "background")] + events
                                     + [(rng.permutation(speech), "speech")], 0.5, 1.0)
    chosen = result["event_thresholds"]
    assert chosen["dog"] == 0.5  # the floor: no negative window ever calls a dog
    assert chosen["rain"] == pytest.approx(0.81)  # just above every false rain
    assert chosen["speech"] == 0.5  # the background windows that score speech are background-best
    assert result["event_window_recall"] == {"dog": 1.0, "rain": 1.0}
    assert result["false_per_min"]["rain"] == 0.0
