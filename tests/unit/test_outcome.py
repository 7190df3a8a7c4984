from gpuagent.runs.outcome import classify, says_cuda_oom


def test_cuda_oom_is_recognised_in_pytorch_and_cuda_wordings():
    assert says_cuda_oom("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert says_cuda_oom("RuntimeError: CUDA error: out of memory")
    assert not says_cuda_oom("loss=0.31 memory=12GiB")
    assert classify(1, False, False, False, cuda_oom_seen=True)[0] == "cuda-oom"
    assert classify(137, True, False, False, cuda_oom_seen=True)[0] == "oom-killed"
    assert classify(0, False, False, False, cuda_oom_seen=True)[0] == "succeeded"
