"""The contract and the task's facts: states, errors, services, Start specs,
Describe, the task store, secrets, signing, URL policy, rooms. Imports nothing of
runtime, media or delivery."""
