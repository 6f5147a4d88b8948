"""What this node's machine gives: files written whole or not at all, whether a process is alive."""
