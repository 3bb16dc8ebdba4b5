"""Node-to-node networking: authenticated WebSocket links between department nodes.

`network.network.Network` is the entry point: it listens on /p2p, keeps a link to each configured peer
address, authenticates every link with a mutual challenge-response bound to the chain ID and genesis
hash, and moves typed messages (gossip and request/response) under per-kind size limits, bounded queues
and peer scores. It knows nothing about consensus. The protocol is in docs/network.md; the wire objects
reuse chainnode.codec and the signing domains in chainnode.crypto.
"""
