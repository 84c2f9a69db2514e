"""Risk foresight: next week's expected events per grid or compound, early warnings, hot hours, and the
backtests that say whether the forecast has skill."""
