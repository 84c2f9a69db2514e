"""The shared base below every stage: errors, clock, database plumbing, redaction, retries, file reading.

Any stage may import it; it imports no stage.
"""
