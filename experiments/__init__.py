"""Top layer: Optuna-tuned, MLflow-tracked training runs on versioned feature sets."""
