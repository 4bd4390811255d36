import numpy as np
import pytest

from vsgrpo.video import VideoError, read_frames, uniform_indices, write_video


def _ramp(n, h=48, w=64):
    # frame i is a flat grey of level 8*i, so decoded frames identify their source index
    return [np.full((h, w, 3), 8 * i, np.uint8) for i in range(n)]


def test_uniform_indices_match_vsibench_sampling():
    assert uniform_indices(30, 8).tolist() == np.linspace(0, 29, 8).astype(int).tolist()
    assert uniform_indices(5, 8).tolist() == [0, 1, 2, 3, 4]
    assert uniform_indices(0, 8).tolist() == []


def test_round_trip_samples_the_right_frames(tmp_path):
    path = tmp_path / "v.mp4"
    assert write_video(path, _ramp(30), fps=24) == 30
    frames, fps = read_frames(path, 8)
    assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
    expected = 8 * uniform_indices(30, 8)
    np.testing.assert_allclose(frames.reshape(8, -1).mean(1), expected, atol=3)
    assert fps == pytest.approx(8 / (30 / 24))


def test_fewer_frames_than_asked_returns_all(tmp_path):
    path = tmp_path / "short.mp4"
    write_video(path, _ramp(5), fps=10)
    frames, fps = read_frames(path, 32)
    assert len(frames) == 5 and fps == pytest.approx(10)


def test_missing_and_corrupt_videos_raise_video_error(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        read_frames(tmp_path / "nope.mp4", 4)
    good = tmp_path / "good.mp4"
    write_video(good, _ramp(10), fps=10)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(VideoError, match="cannot decode"):
        read_frames(bad, 4)


def test_interrupted_encode_leaves_no_file(tmp_path):
    path = tmp_path / "broken.mp4"

    def frames():
        yield from _ramp(3)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        write_video(path, frames(), fps=10)
    assert not path.exists() and list(tmp_path.iterdir()) == []
