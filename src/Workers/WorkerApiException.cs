using System.Net;

namespace OrleansJobs.Workers;

/// <summary>
/// The API refused a request as invalid (a 4xx other than a lost lease): a configuration error
/// (unknown job type, lease outside the type's range) or a report it cannot take (a cursor too long).
/// </summary>
public sealed class WorkerApiException : Exception
{
    /// <summary>Creates the exception for a refused request.</summary>
    /// <param name="statusCode">The HTTP status of the answer.</param>
    /// <param name="message">What was refused and why.</param>
    public WorkerApiException(HttpStatusCode statusCode, string message)
        : base(message)
    {
        StatusCode = statusCode;
    }

    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }
}
