"""chainnode: one department's node of a permissioned BFT ledger for government records."""

__version__ = "0.1.0"
