"""Run directories (runs/NAME/): the member record, the front, the store (config, events,
checkpoints), the event log reader and the plots and reports drawn from a Front."""
