"""synapses"""
