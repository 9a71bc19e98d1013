using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/workers/claim</c>.</summary>
/// <param name="WorkerId">Names the worker in the journal and on the job (1-200 characters); with a device, the agent that heartbeats it.</param>
/// <param name="Types">External job types the worker runs, in the order it prefers them (1-20 names of 1-64 characters); not used with a device.</param>
/// <param name="LeaseSeconds">How long the lease lasts after the claim and after each report; default per type (30 s), or the device's heartbeat timeout. The type sets the allowed range.</param>
/// <param name="Device">A device agent's claim: the job that owns this device and waits for it (device job types are claimed this way only).</param>
public sealed record ClaimRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxIdLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string WorkerId,
    [property: MinLength(1, ErrorMessage = "must be an array of 1 to 20 job type names"), MaxLength(20, ErrorMessage = "must be an array of 1 to 20 job type names")]
    IReadOnlyList<string>? Types = null,
    [property: Range(0, 86_400, MinimumIsExclusive = true, ErrorMessage = "must be a number of seconds above 0 (the type sets the allowed range)")]
    double? LeaseSeconds = null,
    [property: DeviceId] string? Device = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Types is null && Device is null)
        {
            yield return new ValidationResult("is required (or name a device)", ["types"]);
        }

        for (var i = 0; i < (Types?.Count ?? 0); i++)
        {
            if (Types![i] is not { Length: > 0 and <= JobSubmissionLimits.MaxTypeLength })
            {
                yield return new ValidationResult("must be a job type name (a string of 1 to 64 characters)", [$"types[{i}]"]);
            }
        }
    }
}

/// <summary>A claimed job: run it, reporting under <c>leaseToken</c> before <c>leaseExpiresAt</c> each time.</summary>
public sealed record ClaimResponse(
    string JobId, string Type, JsonElement Parameters, JobCheckpoint Checkpoint, JobProgress Progress, int Attempt, string LeaseToken,
    DateTimeOffset LeaseExpiresAt, double LeaseSeconds, int CheckpointEveryItems, int CheckpointIntervalMs);

/// <summary>Body of <c>heartbeat</c>, <c>progress</c> and <c>complete</c>: the lease token, and what the worker has to report.</summary>
/// <param name="LeaseToken">The token of the claim.</param>
/// <param name="Progress">Processed, total, fraction (0-1).</param>
/// <param name="Checkpoint">Where a new run would resume; stored durably.</param>
/// <param name="Messages">Messages for operators, at most 100.</param>
public sealed record WorkerReportRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxIdLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string LeaseToken,
    WorkerProgressBody? Progress = null,
    WorkerCheckpointBody? Checkpoint = null,
    [property: MinLength(1, ErrorMessage = WorkerLimits.MessagesError), MaxLength(WorkerLimits.MaxMessages, ErrorMessage = WorkerLimits.MessagesError)]
    IReadOnlyList<WorkerMessageBody>? Messages = null);

/// <summary>Body of <c>messages</c>: at least one message.</summary>
/// <param name="LeaseToken">The token of the claim.</param>
/// <param name="Messages">Messages for operators, 1 to 100.</param>
/// <param name="Progress">Processed, total, fraction (0-1).</param>
/// <param name="Checkpoint">Where a new run would resume; stored durably.</param>
public sealed record WorkerMessagesRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxIdLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string LeaseToken,
    [property: Required(ErrorMessage = "is required: at least one message"), MinLength(1, ErrorMessage = WorkerLimits.MessagesError), MaxLength(WorkerLimits.MaxMessages, ErrorMessage = WorkerLimits.MessagesError)]
    IReadOnlyList<WorkerMessageBody> Messages,
    WorkerProgressBody? Progress = null,
    WorkerCheckpointBody? Checkpoint = null);

/// <summary>Body of <c>fail</c>: what went wrong.</summary>
/// <param name="LeaseToken">The token of the claim.</param>
/// <param name="Error">What went wrong; becomes the attempt's error.</param>
/// <param name="Progress">Processed, total, fraction (0-1).</param>
/// <param name="Checkpoint">Where the retry resumes; stored durably.</param>
/// <param name="Messages">Messages for operators, at most 100.</param>
public sealed record WorkerFailRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxIdLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string LeaseToken,
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxMessageLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Error,
    WorkerProgressBody? Progress = null,
    WorkerCheckpointBody? Checkpoint = null,
    [property: MinLength(1, ErrorMessage = WorkerLimits.MessagesError), MaxLength(WorkerLimits.MaxMessages, ErrorMessage = WorkerLimits.MessagesError)]
    IReadOnlyList<WorkerMessageBody>? Messages = null);

/// <summary>Body of <c>release</c>: the worker gives the job back, with its last checkpoint.</summary>
/// <param name="LeaseToken">The token of the claim.</param>
/// <param name="Reason">Why (e.g. the worker stops); journaled.</param>
/// <param name="Progress">Processed, total, fraction (0-1).</param>
/// <param name="Checkpoint">Where the next worker resumes; stored durably.</param>
/// <param name="Messages">Messages for operators, at most 100.</param>
public sealed record WorkerReleaseRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxIdLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string LeaseToken,
    [property: StringLength(WorkerLimits.MaxMessageLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? Reason = null,
    WorkerProgressBody? Progress = null,
    WorkerCheckpointBody? Checkpoint = null,
    [property: MinLength(1, ErrorMessage = WorkerLimits.MessagesError), MaxLength(WorkerLimits.MaxMessages, ErrorMessage = WorkerLimits.MessagesError)]
    IReadOnlyList<WorkerMessageBody>? Messages = null);

/// <summary>Progress as a worker reports it.</summary>
/// <param name="Processed">Items done.</param>
/// <param name="Total">Items in all, when known.</param>
/// <param name="Fraction">Share done, 0 to 1; default processed / total.</param>
public sealed record WorkerProgressBody(
    [property: Range(typeof(long), "0", "9223372036854775807", ErrorMessage = "must be a whole number of 0 or more")] long? Processed = null,
    [property: Range(typeof(long), "0", "9223372036854775807", ErrorMessage = "must be a whole number of 0 or more")] long? Total = null,
    [property: Range(0.0, 1.0, ErrorMessage = "must be a number from 0 to 1")] double? Fraction = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Processed > Total)
        {
            yield return new ValidationResult("must not exceed progress.total", ["processed"]);
        }
    }

    public JobProgress ToProgress()
    {
        var processed = Processed ?? 0;
        return new JobProgress(Fraction ?? (Total is > 0 ? (double)processed / Total.Value : 0), processed, Total, []);
    }
}

/// <summary>A checkpoint as a worker reports it: where a new run of the job resumes.</summary>
/// <param name="Cursor">Opaque to the supervisor, at most 16 KiB of text.</param>
/// <param name="Processed">Items done.</param>
/// <param name="Counters">The worker's own counters by name (at most 100, names of 1-100 characters).</param>
public sealed record WorkerCheckpointBody(
    [property: StringLength(16 * 1024, ErrorMessage = "must be a string of at most {1} characters")] string? Cursor = null,
    [property: Range(typeof(long), "0", "9223372036854775807", ErrorMessage = "must be a whole number of 0 or more")] long? Processed = null,
    [property: MaxLength(100, ErrorMessage = "must have at most 100 entries")] Dictionary<string, long>? Counters = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Counters?.Keys.Any(name => name.Length is 0 or > 100) == true)
        {
            yield return new ValidationResult("must name each counter with 1 to 100 characters", ["counters"]);
        }
    }

    public JobCheckpoint ToCheckpoint() => new(Cursor, Processed ?? 0, Counters ?? []);
}

/// <summary>A message as a worker reports it.</summary>
/// <param name="Level">info, warning or error.</param>
/// <param name="Text">1 to 4000 characters.</param>
public sealed record WorkerMessageBody(
    [property: Required(ErrorMessage = "is required: info, warning or error")] WorkerMessageLevel? Level,
    [property: Required(ErrorMessage = "is required"), StringLength(WorkerLimits.MaxMessageLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Text)
{
    public JobMessage ToMessage(DateTimeOffset at) => new(at, (JobMessageLevel)Level!.Value, Text);
}

/// <summary>Severity of a worker's message, as workers write it.</summary>
public enum WorkerMessageLevel
{
    [JsonStringEnumMemberName("info")]
    Info = JobMessageLevel.Info,

    [JsonStringEnumMemberName("warning")]
    Warning = JobMessageLevel.Warning,

    [JsonStringEnumMemberName("error")]
    Error = JobMessageLevel.Error,
}

/// <summary>A report was taken: the job's status and when the lease now ends (null once it has ended).</summary>
public sealed record WorkerReportResponse(JobStatus Status, DateTimeOffset? LeaseExpiresAt);

/// <summary>Sizes the worker API accepts.</summary>
public static class WorkerLimits
{
    public const int MaxIdLength = 200;
    public const int MaxMessages = 100;
    public const int MaxMessageLength = 4000;
    public const string MessagesError = "must be an array of 1 to 100 messages";
}
