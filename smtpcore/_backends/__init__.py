"""Byte streams for the adapters: sockets (+ssl), asyncio, and in-memory mocks."""
