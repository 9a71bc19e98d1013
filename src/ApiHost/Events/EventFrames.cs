using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Events;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Events;

/// <summary>
/// The <c>data</c> of an event on a stream (docs/events.md): the job it is about with its type,
/// status, library and device; for a journal entry its fields; for progress and messages theirs.
/// </summary>
public sealed record JobEventData(
    long? EventId, string Kind, string JobId, string? JobType, string? Status, string? LibraryId, string? DeviceId, DateTimeOffset At,
    long? Seq, string? EntryType, string? From, string? To, string? Reason, string? Actor, string? Silo, JsonElement? Data,
    JobProgress? Progress, JobMessage? Message, DateTimeOffset? CommittedAt);

/// <summary>Server-sent event frames: each event's text made once, then copied to every client that wants it.</summary>
public static class EventFrames
{
    public const string ContentType = "text/event-stream";

    /// <summary>The first bytes of every stream: a reconnection delay for EventSource, and a comment.</summary>
    public static readonly byte[] Opening = Encoding.UTF8.GetBytes("retry: 2000\n: job events (docs/events.md)\n\n");

    public static readonly byte[] KeepAlive = Encoding.UTF8.GetBytes(": keep-alive\n\n");

    private static readonly JsonSerializerOptions Json = new(ApiJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static FeedEvent From(JobEvent e)
    {
        var entry = e.Entry;
        var data = new JobEventData(
            e.EventId == 0 ? null : e.EventId, e.Kind, e.JobId, e.JobType, e.Status, e.LibraryId, e.DeviceId, e.At,
            entry?.Seq, entry?.Type, entry?.From?.ToString(), entry?.To?.ToString(), entry?.Reason, entry?.Actor, entry?.Silo,
            entry?.DataJson is { } raw ? JsonDocument.Parse(raw).RootElement.Clone() : null, e.Progress, e.Message, e.CommittedAt);
        var json = JsonSerializer.Serialize(data, Json);
        var frame = new StringBuilder(json.Length + 64);
        frame.Append("event: ").Append(e.Kind).Append('\n');
        if (e.EventId != 0)
        {
            frame.Append("id: ").Append(e.EventId).Append('\n');
        }

        frame.Append("data: ").Append(json).Append("\n\n");
        return new FeedEvent(e.EventId, e, Encoding.UTF8.GetBytes(frame.ToString()));
    }

    /// <summary>The last frame of a stream whose client fell too far behind: reconnect with Last-Event-ID.</summary>
    public static byte[] Reconnect(long lastEventId, string reason)
    {
        var json = JsonSerializer.Serialize(new { lastEventId, reason }, Json);
        var id = lastEventId > 0 ? $"id: {lastEventId}\n" : "";
        return Encoding.UTF8.GetBytes($"event: reconnect\n{id}data: {json}\n\n");
    }
}
