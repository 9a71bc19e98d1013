using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;
using Limits = OrleansJobs.Jobs.JobSubmissionLimits;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/jobs</c>.</summary>
/// <param name="Type">Registered job type, e.g. <c>synthetic</c>.</param>
/// <param name="Parameters">The job type's parameters (a JSON object).</param>
/// <param name="Priority">Higher runs first among queued jobs of a type; -1000 to 1000, default 0.</param>
/// <param name="MaxAttempts">Attempts before the job fails; 1 to 100, default per type (3).</param>
/// <param name="Checkpoint">Checkpoint cadence: every N items or T milliseconds.</param>
/// <param name="IdempotencyKey">Same key, same job: repeats return the existing job (also as header <c>Idempotency-Key</c>).</param>
/// <param name="RunAfter">Do not start before this time (ISO 8601 with offset, under a year ahead); the job waits Queued.</param>
/// <param name="Library">The library the job works on: it runs holding the library's lock (one job at a time per library). Required by the file job types.</param>
/// <param name="LockWaitSeconds">With a library: how long the job may wait for the lock (0 to 86,400 s) before it fails; default: as long as it takes.</param>
/// <param name="Device">The device the job runs on (device job types, e.g. <c>plot</c>): it owns the device until it ends, and only the device's agent runs it.</param>
/// <param name="DeviceKind">Instead of a device: the first device of this kind that is Online and free takes the job (then as if it had been named).</param>
public sealed record SubmitJobRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(Limits.MaxTypeLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Type,
    JsonElement? Parameters = null,
    [property: Range(Limits.MinPriority, Limits.MaxPriority, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? Priority = null,
    [property: Range(Limits.MinMaxAttempts, Limits.MaxMaxAttempts, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? MaxAttempts = null,
    CheckpointRequest? Checkpoint = null,
    [property: StringLength(Limits.MaxIdempotencyKeyLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? IdempotencyKey = null,
    DateTimeOffset? RunAfter = null,
    [property: LibraryId] string? Library = null,
    [property: Range(Limits.MinLockWaitSeconds, Limits.MaxLockWaitSeconds, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? LockWaitSeconds = null,
    [property: DeviceId] string? Device = null,
    [property: DeviceId] string? DeviceKind = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // JsonElement takes any JSON; the silo's handlers take an object. Its strings are checked here
        // because no string converter reads them.
        if (Parameters is { } parameters && (parameters.ValueKind != JsonValueKind.Object || !StorableJson.IsStorable(parameters)))
        {
            yield return new ValidationResult("must be a JSON object (without NUL characters or unpaired surrogates)", ["parameters"]);
        }
    }

    /// <summary>The submission this request asks for, as the job grain takes it.</summary>
    public JobSubmission ToSubmission(string? headerKey, string actor) => new(
        Type, Parameters?.GetRawText() ?? "{}", Priority ?? 0, MaxAttempts, Checkpoint?.EveryItems,
        Checkpoint?.IntervalMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, IdempotencyKey ?? headerKey, actor, RunAfter, Library, LockWaitSeconds, Device, DeviceKind);
}

/// <summary>Checkpoint cadence of one job: whichever comes first.</summary>
/// <param name="EveryItems">Checkpoint after this many items (1 to 1,000,000).</param>
/// <param name="IntervalMs">... or after this many milliseconds (100 to 3,600,000).</param>
public sealed record CheckpointRequest(
    [property: Range(Limits.MinCheckpointEveryItems, Limits.MaxCheckpointEveryItems, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? EveryItems = null,
    [property: Range(Limits.MinCheckpointIntervalMs, Limits.MaxCheckpointIntervalMs, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? IntervalMs = null);

/// <summary>Optional body of the action endpoints.</summary>
/// <param name="Reason">Recorded in the journal (and as the error of force-fail).</param>
/// <param name="FromCheckpoint">Restart only: resume from the checkpoint (default) or start over.</param>
public sealed record JobActionRequest(
    [property: StringLength(1000, ErrorMessage = "must be a string of at most {1} characters")] string? Reason = null,
    bool? FromCheckpoint = null);

/// <summary>Filters and page of <c>GET /api/jobs</c>.</summary>
/// <param name="Status">Only jobs in these statuses: repeat the parameter, or separate names with commas.</param>
/// <param name="Type">Only jobs of this type.</param>
/// <param name="CreatedFrom">Only jobs created at or after this time (ISO 8601).</param>
/// <param name="CreatedTo">Only jobs created before this time (ISO 8601).</param>
/// <param name="Stuck">true: only running jobs without progress for their type's stall timeout (the watchdog's rule).</param>
/// <param name="Interrupted">true: only jobs their device stopped (paused by a disconnect or a fault) and active jobs whose silo is no longer an active member of the cluster.</param>
/// <param name="Limit">Page size, 1 to 500 (default 50).</param>
/// <param name="Cursor">The <c>nextCursor</c> of the previous page.</param>
public sealed record ListJobsQuery(
    [property: FromQuery(Name = "status")] JobStatusFilter[]? Status = null,
    [property: FromQuery(Name = "type"), QueryText(Limits.MaxTypeLength)] string? Type = null,
    [property: FromQuery(Name = "createdFrom")] DateTimeOffset? CreatedFrom = null,
    [property: FromQuery(Name = "createdTo")] DateTimeOffset? CreatedTo = null,
    [property: FromQuery(Name = "stuck")] bool? Stuck = null,
    [property: FromQuery(Name = "interrupted")] bool? Interrupted = null,
    [property: FromQuery(Name = "limit"), Range(1, ListJobsQuery.MaxLimit, ErrorMessage = "must be a whole number from {1} to {2}")] int? Limit = null,
    [property: FromQuery(Name = "cursor")] JobCursor? Cursor = null)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;
}

/// <summary>Job statuses named in one <c>status</c> query value: exact names, comma-separated (numbers are refused).</summary>
public readonly record struct JobStatusFilter(IReadOnlyList<JobStatus> Statuses) : INamedQueryValue
{
    public static IReadOnlyList<string> Names { get; } = Enum.GetNames<JobStatus>();

    public static bool TryParse(string? value, out JobStatusFilter filter)
    {
        var statuses = new List<JobStatus>();
        foreach (var name in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Names.Contains(name, StringComparer.Ordinal))
            {
                filter = default;
                return false;
            }

            statuses.Add(Enum.Parse<JobStatus>(name));
        }

        filter = new JobStatusFilter(statuses);
        return true;
    }
}

/// <summary>Format of the journal: a JSON array (<c>json</c>, the default) or JSON Lines (<c>jsonl</c>).</summary>
public readonly record struct JournalFormat(bool Lines) : INamedQueryValue
{
    public static IReadOnlyList<string> Names { get; } = ["json", "jsonl"];

    public static bool TryParse(string? value, out JournalFormat format)
    {
        format = new JournalFormat(value == "jsonl");
        return value is "json" or "jsonl";
    }
}

/// <summary>Where a page of the listing continues: after the job created at <see cref="CreatedAt"/> with id <see cref="Id"/>.</summary>
public readonly record struct JobCursor(DateTimeOffset CreatedAt, string Id) : IQueryValue
{
    public override string ToString() => CursorText.Encode($"{CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}|{Id}");

    public static bool TryParse(string? value, out JobCursor cursor)
    {
        cursor = default;
        var text = CursorText.Decode(value, 400);
        var bar = text?.IndexOf('|', StringComparison.Ordinal) ?? -1;
        if (text is null || bar <= 0 || !long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks > DateTimeOffset.MaxValue.UtcTicks || !JobIds.IsWellFormed(text[(bar + 1)..]))
        {
            return false;
        }

        cursor = new JobCursor(new DateTimeOffset(ticks, TimeSpan.Zero), text[(bar + 1)..]);
        return true;
    }
}
