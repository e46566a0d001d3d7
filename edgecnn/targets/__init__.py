"""Edge targets: the Coral Edge TPU (:mod:`edgecnn.targets.coral`) and remote machines such as a Raspberry Pi
profiled over SSH (:mod:`edgecnn.targets.remote`).

Everything here is TensorFlow-free: it runs with the base install on the device itself.
"""
