"""The trained (question, sentence) reader: the ONNX model at run time, its training command."""
