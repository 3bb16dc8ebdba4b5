"""The consensus driver's parts: the synchronous engine that runs the Tendermint core over verified peer
messages (engine.py), the checks peer messages meet first (screen.py), what is sent again each interval
(regossip.py), message formats and limits (gossip.py), the proposal-block store (blocks.py), the bounded
stash for the next heights (stash.py), the WAL-guarded signer (signer.py) and evidence reports
(evidence.py). chainnode/bft.py wires them to the network, the node and asyncio."""
