namespace OrleansJobs.Safeguards;

/// <summary>The state validator's schedule (section <c>Validator</c>).</summary>
public sealed class ValidatorOptions
{
    public const string SectionName = "Validator";

    /// <summary>How often the validator runs (on one silo of the cluster); it also runs when a silo starts.</summary>
    public TimeSpan ValidationInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether a silo that leads the cluster when it starts runs the validator at once.</summary>
    public bool ValidateAtStart { get; set; } = true;

    /// <summary>
    /// How long a change must have been stored before the validator judges it: an index row may trail its
    /// job's state, and a journal row its index row, by the time a projection takes.
    /// </summary>
    public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Jobs and resources asked at once.</summary>
    public int Parallelism { get; set; } = 8;
}
