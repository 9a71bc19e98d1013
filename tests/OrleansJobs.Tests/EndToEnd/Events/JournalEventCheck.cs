using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansJobs.Tests.EndToEnd.Events;

/// <summary>Checks that journal events carry exactly what the journal holds (docs/events.md), whichever way they came.</summary>
public static class JournalEventCheck
{
    private sealed record Row(long EventId, string JobId, long Seq, DateTimeOffset At, string Type, string? From, string? To,
        string? Reason, string Actor, string? Silo, string? Data);

    /// <summary>Each journal event's fields equal its row's: seq, time, entry type, statuses, reason, actor, silo and data.</summary>
    public static async Task AssertAsStoredAsync(TestDatabase database, IReadOnlyCollection<SseEvent> events)
    {
        var ids = events.Select(e => e.EventId).ToArray();
        var rows = (await database.QueryAsync(
            """
            SELECT event_id, job_id, seq, at, entry_type, from_status, to_status, reason, actor, silo, data::text
            FROM job_journal WHERE event_id = ANY(@ids)
            """,
            r => new Row(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetFieldValue<DateTimeOffset>(3), r.GetString(4),
                Nullable(r, 5), Nullable(r, 6), Nullable(r, 7), r.GetString(8), Nullable(r, 9), Nullable(r, 10)),
            ("ids", ids))).ToDictionary(r => r.EventId);
        Assert.Equal(ids.Length, rows.Count);
        foreach (var e in events)
        {
            var row = rows[e.EventId];
            var json = e.Json;
            Assert.Equal("journal", e.Event);
            Assert.Equal("journal", json.GetProperty("kind").GetString());
            Assert.Equal(row.EventId, json.GetProperty("eventId").GetInt64());
            Assert.Equal(row.JobId, json.GetProperty("jobId").GetString());
            Assert.Equal(row.Seq, json.GetProperty("seq").GetInt64());
            Assert.Equal(row.At, json.GetProperty("at").GetDateTimeOffset());
            Assert.Equal(row.Type, json.GetProperty("entryType").GetString());
            Assert.Equal(row.From, Optional(json, "from"));
            Assert.Equal(row.To, Optional(json, "to"));
            Assert.Equal(row.Reason, Optional(json, "reason"));
            Assert.Equal(row.Actor, Optional(json, "actor"));
            Assert.Equal(row.Silo, Optional(json, "silo"));
            Assert.True(json.TryGetProperty("data", out var data) == (row.Data is not null), e.Data);
            if (row.Data is not null)
            {
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(row.Data), JsonNode.Parse(data.GetRawText())), $"{e.Data} against {row.Data}");
            }

            Assert.False(e.Data.Contains('\n', StringComparison.Ordinal), "one data line per event");
        }
    }

    private static string? Nullable(Npgsql.NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    private static string? Optional(JsonElement json, string name) => json.TryGetProperty(name, out var value) ? value.GetString() : null;
}
