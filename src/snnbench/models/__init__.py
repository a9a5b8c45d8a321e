"""Models: SNN builders, ANN baselines with parameter matching, and a dict-spec builder.

Every classifier takes the dataset's sample-first batch: ``model(x, lengths=None,
generator=None) -> logits [B, K]``.
"""

from .ann import CNN, MLP, GRUClassifier, LSTMClassifier
from .builder import MODEL_TYPES, build_model
from .delay_snn import DelaySNN
from .matching import count_parameters, match_baseline
from .readout import get_masked_readout, lengths_to_mask
from .components import LeakyIntegrator
from .snn import ConvSNN, FeedForwardSNN, RecurrentSNN, SpikingClassifier
from .zoo import VGG, ResNet, SpikingResNet, SpikingVGG

__all__ = [
    "CNN",
    "MLP",
    "GRUClassifier",
    "LSTMClassifier",
    "ConvSNN",
    "FeedForwardSNN",
    "RecurrentSNN",
    "DelaySNN",
    "SpikingClassifier",
    "LeakyIntegrator",
    "count_parameters",
    "match_baseline",
    "build_model",
    "MODEL_TYPES",
    "get_masked_readout",
    "lengths_to_mask",
    "SpikingVGG",
    "SpikingResNet",
    "VGG",
    "ResNet",
]
