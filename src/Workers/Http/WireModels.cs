using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansJobs.Workers.Http;

/// <summary>Body of <c>POST /api/workers/claim</c>; <c>device</c> only when set (servers without devices refuse the field).</summary>
internal sealed record ClaimBody(string WorkerId, IReadOnlyList<string>? Types, double? LeaseSeconds, string? Device);

/// <summary>A claimed job as the API answers it; members the library does not use are ignored.</summary>
internal sealed record ClaimedJob(string JobId, string Type, JsonElement Parameters, CheckpointBody? Checkpoint, int Attempt, string LeaseToken, double LeaseSeconds);

/// <summary>One body for every report: the API reads only the members each report defines, and nulls are not sent.</summary>
internal sealed record ReportBody(
    string LeaseToken,
    ProgressBody? Progress = null,
    CheckpointBody? Checkpoint = null,
    IReadOnlyList<MessageBody>? Messages = null,
    string? Error = null,
    string? Reason = null);

internal sealed record ProgressBody(long Processed, long? Total);

internal sealed record CheckpointBody(string? Cursor, long? Processed, IReadOnlyDictionary<string, long>? Counters)
{
    public static CheckpointBody From(WorkerCheckpoint checkpoint) => new(checkpoint.Cursor, checkpoint.Processed, checkpoint.Counters);

    public WorkerCheckpoint ToCheckpoint() => new(Cursor, Processed ?? 0, Counters ?? new Dictionary<string, long>());
}

internal sealed record MessageBody(string Level, string Text);

/// <summary>A problem answer (RFC 9457) with the API's extensions.</summary>
internal sealed record ProblemBody(string? Title, string? Detail, string? JobStatus, Dictionary<string, string[]>? Errors);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClaimBody))]
[JsonSerializable(typeof(ClaimedJob))]
[JsonSerializable(typeof(ReportBody))]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class WireJson : JsonSerializerContext;
