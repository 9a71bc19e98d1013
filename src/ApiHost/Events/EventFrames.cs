using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Events;

namespace OrleansJobs.ApiHost.Events;

/// <summary>
/// Server-sent event frames: each event's text made once, then copied to every client that wants it.
/// The <c>data</c> of an event (docs/events.md) is the job it is about with its type, status, library and
/// device; for a journal entry its fields; for progress and messages theirs. Null members are left out.
/// Written straight into a reused buffer: the feed makes one frame per event of the whole cluster.
/// </summary>
public static class EventFrames
{
    public const string ContentType = "text/event-stream";

    /// <summary>The first bytes of every stream: a reconnection delay for EventSource, and a comment.</summary>
    public static readonly byte[] Opening = Encoding.UTF8.GetBytes("retry: 2000\n: job events (docs/events.md)\n\n");

    public static readonly byte[] KeepAlive = Encoding.UTF8.GetBytes(": keep-alive\n\n");

    private static readonly JsonSerializerOptions Json = new(ApiJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private static readonly JsonEncodedText EventIdName = JsonEncodedText.Encode("eventId");
    private static readonly JsonEncodedText KindName = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText JobIdName = JsonEncodedText.Encode("jobId");
    private static readonly JsonEncodedText JobTypeName = JsonEncodedText.Encode("jobType");
    private static readonly JsonEncodedText StatusName = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText LibraryIdName = JsonEncodedText.Encode("libraryId");
    private static readonly JsonEncodedText DeviceIdName = JsonEncodedText.Encode("deviceId");
    private static readonly JsonEncodedText AtName = JsonEncodedText.Encode("at");
    private static readonly JsonEncodedText SeqName = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText EntryTypeName = JsonEncodedText.Encode("entryType");
    private static readonly JsonEncodedText FromName = JsonEncodedText.Encode("from");
    private static readonly JsonEncodedText ToName = JsonEncodedText.Encode("to");
    private static readonly JsonEncodedText ReasonName = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText ActorName = JsonEncodedText.Encode("actor");
    private static readonly JsonEncodedText SiloName = JsonEncodedText.Encode("silo");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText ProgressName = JsonEncodedText.Encode("progress");
    private static readonly JsonEncodedText MessageName = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText CommittedAtName = JsonEncodedText.Encode("committedAt");

    [ThreadStatic]
    private static FrameBuffer? t_buffer;

    public static FeedEvent From(JobEvent e)
    {
        var buffer = t_buffer ??= new FrameBuffer();
        var output = buffer.Start();
        Text(output, "event: ");
        Text(output, e.Kind);
        Text(output, "\n");
        if (e.EventId != 0)
        {
            Text(output, "id: ");
            var span = output.GetSpan(20);
            Utf8Formatter.TryFormat(e.EventId, span, out var written);
            output.Advance(written);
            Text(output, "\n");
        }

        Text(output, "data: ");
        WriteData(buffer.Json, e);
        Text(output, "\n\n");
        var frame = output.WrittenSpan.ToArray();
        if (output.Capacity > FrameBuffer.KeptCapacity)
        {
            t_buffer = null; // an exceptionally large event: do not hold its buffer for ever
        }

        return new FeedEvent(e.EventId, e, frame);
    }

    /// <summary>The last frame of a stream whose client fell too far behind: reconnect with Last-Event-ID.</summary>
    public static byte[] Reconnect(long lastEventId, string reason)
    {
        var json = JsonSerializer.Serialize(new { lastEventId, reason }, Json);
        var id = lastEventId > 0 ? $"id: {lastEventId}\n" : "";
        return Encoding.UTF8.GetBytes($"event: reconnect\n{id}data: {json}\n\n");
    }

    private static void WriteData(Utf8JsonWriter json, JobEvent e)
    {
        var entry = e.Entry;
        json.WriteStartObject();
        if (e.EventId != 0)
        {
            json.WriteNumber(EventIdName, e.EventId);
        }

        json.WriteString(KindName, e.Kind);
        json.WriteString(JobIdName, e.JobId);
        OptionalString(json, JobTypeName, e.JobType);
        OptionalString(json, StatusName, e.Status);
        OptionalString(json, LibraryIdName, e.LibraryId);
        OptionalString(json, DeviceIdName, e.DeviceId);
        json.WriteString(AtName, e.At);
        if (entry is not null)
        {
            json.WriteNumber(SeqName, entry.Seq);
            json.WriteString(EntryTypeName, entry.Type);
            if (entry.From is { } from)
            {
                json.WriteString(FromName, from.ToString());
            }

            if (entry.To is { } to)
            {
                json.WriteString(ToName, to.ToString());
            }

            OptionalString(json, ReasonName, entry.Reason);
            OptionalString(json, ActorName, entry.Actor);
            OptionalString(json, SiloName, entry.Silo);
            if (entry.DataJson is { } raw)
            {
                // Parsed, so that what goes out is one line of valid JSON however the journal spelled it.
                using var data = JsonDocument.Parse(raw);
                json.WritePropertyName(DataName);
                data.RootElement.WriteTo(json);
            }
        }

        if (e.Progress is { } progress)
        {
            json.WritePropertyName(ProgressName);
            JsonSerializer.Serialize(json, progress, Json);
        }

        if (e.Message is { } message)
        {
            json.WritePropertyName(MessageName);
            JsonSerializer.Serialize(json, message, Json);
        }

        if (e.CommittedAt is { } committedAt)
        {
            json.WriteString(CommittedAtName, committedAt);
        }

        json.WriteEndObject();
        json.Flush();
    }

    private static void OptionalString(Utf8JsonWriter json, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private static void Text(ArrayBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        var written = Encoding.UTF8.GetBytes(text, span);
        output.Advance(written);
    }

    /// <summary>One thread's frame buffer and JSON writer, reused frame after frame.</summary>
    private sealed class FrameBuffer
    {
        public const int KeptCapacity = 64 * 1024;

        private readonly ArrayBufferWriter<byte> _output = new(1024);

        public FrameBuffer() => Json = new Utf8JsonWriter(_output);

        public Utf8JsonWriter Json { get; }

        public ArrayBufferWriter<byte> Start()
        {
            _output.ResetWrittenCount();
            Json.Reset(_output);
            return _output;
        }
    }
}
