"""Node-to-node networking: authenticated WebSocket links, framing, gossip and block sync.

The single-validator node of this release does not link to peers yet; the BFT network fills this
package. Its wire objects reuse chainnode.codec and the signing domains in chainnode.crypto.
"""
