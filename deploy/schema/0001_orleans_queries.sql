-- Orleans ADO.NET providers read every SQL statement they issue from this table at start-up,
-- keyed by name. The statements below (in the next scripts) are ours, written to the providers'
-- contract: the same parameter names (@Name), and result columns read by name.
CREATE TABLE OrleansQuery (
    QueryKey   varchar(64) NOT NULL,
    QueryText  text        NOT NULL,
    CONSTRAINT PK_OrleansQuery PRIMARY KEY (QueryKey)
);
