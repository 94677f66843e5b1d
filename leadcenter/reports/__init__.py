"""KPIs and report series: service level, speed of answer, abandonment, handle time, conversations (docs/kpis.md)."""
