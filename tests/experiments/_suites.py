"""The tiny suite config the run-folder, runner and fault-injection tests train: digits, a
16-neuron SNN and its matched MLP, a few epochs in seconds."""


def tiny_suite(name: str = "tiny", epochs: int = 2, batch_size: int = 256) -> dict:
    return {
        "name": name,
        "seeds": [0],
        "experiments": [{
            "name": "digits",
            "data": {"name": "digits", "val_fraction": 0.1},
            "models": [
                {"name": "snn", "type": "snn_ff", "hidden": [16],
                 "kwargs": {"encoder": "bernoulli", "num_steps": 4, "readout": "mean_membrane"}},
                {"name": "mlp", "type": "mlp", "match": "snn"},
            ],
            "train": {"epochs": epochs, "batch_size": batch_size, "lr": 5e-3, "schedule": "cosine"},
        }],
    }
