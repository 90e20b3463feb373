"""Models-from-code entry point: MLflow executes this file to build the served pyfunc.

Only MLflow loads this file (it is the `python_model` path given to log_model); importing
it elsewhere would register a model object with MLflow as a side effect.
"""

import mlflow.models

from serving.model import UsagecastModel

mlflow.models.set_model(UsagecastModel())
