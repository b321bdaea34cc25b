-- SIG VoIP store, schema version 3: each server's load kept as reservations change, so the
-- automatic server choice reads one row per server instead of summing every reservation.
-- Triggers keep it exact whatever writes the reservations (SIG, an operator's SQL, a
-- migration); it is derived data, rebuilt here from the reservations already stored.

CREATE TABLE server_loads (
    server   TEXT PRIMARY KEY,
    lines    INTEGER NOT NULL CHECK (lines >= 0),
    channels INTEGER NOT NULL CHECK (channels >= 0)
);

INSERT INTO server_loads (server, lines, channels)
    SELECT server, sum(lines), sum(channels) FROM reservations GROUP BY server;

CREATE TRIGGER server_loads_reserve AFTER INSERT ON reservations BEGIN
    INSERT INTO server_loads (server, lines, channels) VALUES (NEW.server, NEW.lines, NEW.channels)
        ON CONFLICT (server) DO UPDATE SET lines = lines + excluded.lines,
                                           channels = channels + excluded.channels;
END;

CREATE TRIGGER server_loads_release AFTER DELETE ON reservations BEGIN
    UPDATE server_loads SET lines = lines - OLD.lines, channels = channels - OLD.channels
        WHERE server = OLD.server;
END;

CREATE TRIGGER server_loads_change AFTER UPDATE OF server, lines, channels ON reservations BEGIN
    UPDATE server_loads SET lines = lines - OLD.lines, channels = channels - OLD.channels
        WHERE server = OLD.server;
    INSERT INTO server_loads (server, lines, channels) VALUES (NEW.server, NEW.lines, NEW.channels)
        ON CONFLICT (server) DO UPDATE SET lines = lines + excluded.lines,
                                           channels = channels + excluded.channels;
END;
