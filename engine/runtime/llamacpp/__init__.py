"""llama.cpp through llama-cpp-python, in a child process the runner owns."""
