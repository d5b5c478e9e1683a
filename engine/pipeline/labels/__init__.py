"""Labels by classical scoring: keyphrases, section titles and topics, general fields and
complexity."""
