"""The served model: a pyfunc over a LightGBM text model; explanations and what-if search.

Ships inside the model with features/; must never import experiments/ or registry/.
"""
