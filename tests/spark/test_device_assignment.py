"""GPU assignment for Spark tasks, with fake TaskContext.resources() (no GPU is needed or used)."""
import pytest

from sluice.device_assignment import assign_device, visible_gpus


class FakeResourceInformation:
    def __init__(self, addresses):
        self.name = "gpu"
        self.addresses = addresses


def test_a_task_uses_the_gpu_spark_assigned_it(sluice_module):
    choice = assign_device("auto", {"gpu": FakeResourceInformation(["3"])}, partition_id=0, local_gpus=["0", "1"],
                           has_cuda=True, environ={})
    assert (choice.device, choice.gpu_address, choice.source) == ("cuda:3", "3", "spark")


def test_an_assigned_gpu_is_numbered_as_cuda_numbers_the_visible_devices(sluice_module):
    choice = assign_device("auto", {"gpu": FakeResourceInformation(["3"])}, partition_id=0, local_gpus=[],
                           has_cuda=True, environ={"CUDA_VISIBLE_DEVICES": "2,3"})
    assert (choice.device, choice.gpu_address) == ("cuda:1", "3")
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        assign_device("auto", {"gpu": ["5"]}, partition_id=0, local_gpus=[], has_cuda=True,
                      environ={"CUDA_VISIBLE_DEVICES": "2,3"})


def test_without_spark_gpu_scheduling_partitions_are_spread_over_visible_gpus(sluice_module):
    devices = [assign_device("auto", {}, partition_id=p, local_gpus=["0", "1", "2"], has_cuda=True, environ={}).device
               for p in range(5)]
    assert devices == ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]


def test_without_a_cuda_backend_the_assigned_gpu_is_recorded_and_the_cpu_runs(sluice_module):
    choice = assign_device("auto", {"gpu": ["1"]}, partition_id=4, local_gpus=[], has_cuda=False)
    assert (choice.device, choice.gpu_address) == ("cpu", "1")


def test_cpu_is_honoured_even_with_gpus(sluice_module):
    assert assign_device("cpu", {"gpu": ["0"]}, 0, ["0"], True).device == "cpu"


def test_cuda_without_a_gpu_or_backend_is_an_error(sluice_module):
    with pytest.raises(ValueError, match="no GPU"):
        assign_device("cuda", {}, 0, [], True)
    with pytest.raises(ValueError, match="no CUDA backend"):
        assign_device("cuda", {"gpu": ["0"]}, 0, [], False)


def test_visible_gpus_follow_cuda_visible_devices(sluice_module, tmp_path):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    for name in ("nvidia1", "nvidia0", "nvidiactl", "nvidia10"):
        (tmp_path / name).write_text("")
    assert visible_gpus({}, device_glob=str(tmp_path / "nvidia[0-9]*")) == ["0", "1", "10"]
