"""Amazon SageMaker: the settings of AWS's ALBERT/BERT scripts (`flags`), what the scripts do
inside SageMaker's training container (`container`) and the training job that
`python -m albert.launch_sagemaker` submits (`job`)."""
