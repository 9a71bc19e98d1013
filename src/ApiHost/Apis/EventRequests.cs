using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using Limits = OrleansJobs.Jobs.JobSubmissionLimits;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Query of <c>GET /api/events</c>: which jobs' events, and where a reconnecting client resumes.</summary>
/// <param name="Type">Only jobs of this type.</param>
/// <param name="Status">Only events that show the job in one of these statuses: repeat the parameter, or separate names with commas.</param>
/// <param name="LibraryId">Only jobs on this library.</param>
/// <param name="DeviceId">Only jobs on this device.</param>
/// <param name="LastEventId">Resume after this event id (as the Last-Event-ID header does, for clients that cannot set it).</param>
public sealed record EventsQuery(
    [property: FromQuery(Name = "type"), QueryText(Limits.MaxTypeLength)] string? Type = null,
    [property: FromQuery(Name = "status")] JobStatusFilter[]? Status = null,
    [property: FromQuery(Name = "libraryId"), LibraryId] string? LibraryId = null,
    [property: FromQuery(Name = "deviceId"), DeviceId] string? DeviceId = null,
    [property: FromQuery(Name = "lastEventId")] EventCursor? LastEventId = null);

/// <summary>An event id in a query string: a whole number from 0 (digits only).</summary>
public readonly record struct EventCursor(long Value) : IQueryValue
{
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string? value, out EventCursor cursor)
    {
        long parsed = 0;
        var ok = value is { Length: > 0 and <= 19 } && value.All(char.IsAsciiDigit)
            && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out parsed);
        cursor = new EventCursor(ok ? parsed : 0);
        return ok;
    }

    /// <summary>
    /// Where a stream resumes: the Last-Event-ID header or the lastEventId query value (they must agree when both are
    /// given); null for neither. An empty header counts as none (EventSource sends none before it has an id).
    /// </summary>
    public static (long? After, string? Field, string? Error) Resume(string? header, EventCursor? query)
    {
        long? fromHeader = null;
        if (!string.IsNullOrEmpty(header))
        {
            if (!TryParse(header.Trim(), out var parsed))
            {
                return (null, "lastEventId", "the Last-Event-ID header must be an event id: a whole number from 0, digits only");
            }

            fromHeader = parsed.Value;
        }

        if (fromHeader is { } h && query is { } q && h != q.Value)
        {
            return (null, "lastEventId", "must equal the Last-Event-ID header when both are given");
        }

        return (fromHeader ?? query?.Value, null, null);
    }
}
