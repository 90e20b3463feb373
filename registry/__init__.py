"""Model registry: model names, the pure promotion policy, and MLflow registry IO."""
