-- A migration applied or undone, marked on the console's charts.
INSERT INTO db_history_events (kind, label, detail)
VALUES ('migration', :label, :detail)
