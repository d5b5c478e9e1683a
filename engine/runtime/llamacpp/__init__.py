"""llama.cpp through llama-cpp-python, in a child process the runner owns.

Parent side: ``runner`` (``LlamaRunner``, never imports llama.cpp). Shared: ``protocol`` (the
pipe messages, ``DecodeOptions``, the child's entry point by module name). Child side:
``worker`` (the serve loop), ``model`` (model, context, KV cache), ``decoding`` (grammar
sampling, fast-forward, drafts), ``logcapture`` (llama.cpp's log), ``cpu_features``.
"""
