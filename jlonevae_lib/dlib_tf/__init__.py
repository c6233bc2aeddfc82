"""disentanglement_lib on TensorFlow: the code that runs inside its own environment.

Nothing here is imported by the rest of the package, whose environment has no TensorFlow. These
modules run with the interpreter of ``.venv-dlib/`` (built by
``experimentScripts/train_baseline/build_dlib_env.bash``; docs/dlib_tensorflow.md), where this
repository is on the path but torch is not installed. They import only the standard library,
numpy, TensorFlow, disentanglement_lib and the torch-free layers :mod:`jlonevae_lib.data`,
:mod:`jlonevae_lib.runs` and :mod:`jlonevae_lib.utils`.

The PyTorch side talks to them through subprocesses and files (npz, JSON):
:mod:`jlonevae_lib.train.dlib_import` imports their models.
"""
