"""The bottom layer: small building blocks every other package may use; imports nothing of unigate."""
