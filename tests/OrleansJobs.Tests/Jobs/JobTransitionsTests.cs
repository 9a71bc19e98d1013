using OrleansJobs.Jobs;

namespace OrleansJobs.Tests.Jobs;

/// <summary>
/// Every (from, to) pair of the state machine and every (status, action) pair of the control
/// table, checked against matrices written out here independently of the production tables.
/// </summary>
public sealed class JobTransitionsTests
{
    // Rows: from; columns: to, in JobStatus order
    // (Queued, Running, Paused, Cancelling, Cancelled, Completed, Failed, Killed, Pausing).
    private static readonly Dictionary<JobStatus, string> ExpectedTransitions = new()
    {
        [JobStatus.Queued] = "-RP-C-FK-",
        [JobStatus.Running] = "Q-PC-CFKP",
        [JobStatus.Paused] = "QR--C-FK-",
        [JobStatus.Cancelling] = "----C-FK-",
        [JobStatus.Cancelled] = "Q--------",
        [JobStatus.Completed] = "Q--------",
        [JobStatus.Failed] = "Q--------",
        [JobStatus.Killed] = "Q--------",
        [JobStatus.Pausing] = "Q-PC--FK-",
    };

    // For each action, per status in JobStatus order: the target status (T:x), already done (=) or conflict (!).
    private static readonly Dictionary<JobAction, string[]> ExpectedActions = new()
    {
        //                        Queued        Running          Paused         Cancelling  Cancelled  Completed  Failed     Killed     Pausing
        [JobAction.Cancel] = ["T:Cancelled", "T:Cancelling", "T:Cancelled", "=", "=", "!", "!", "!", "T:Cancelling"],
        [JobAction.Kill] = ["T:Killed", "T:Killed", "T:Killed", "T:Killed", "!", "!", "!", "=", "T:Killed"],
        [JobAction.Pause] = ["T:Paused", "T:Pausing", "=", "!", "!", "!", "!", "!", "="],
        [JobAction.Resume] = ["=", "=", "T:Queued", "!", "!", "!", "!", "!", "T:Queued"],
        [JobAction.Restart] = ["!", "!", "T:Queued", "!", "T:Queued", "T:Queued", "T:Queued", "T:Queued", "!"],
        [JobAction.ForceFail] = ["T:Failed", "T:Failed", "T:Failed", "T:Failed", "!", "!", "=", "!", "T:Failed"],
    };

    public static TheoryData<JobStatus, JobStatus> AllPairs()
    {
        var data = new TheoryData<JobStatus, JobStatus>();
        foreach (var from in Enum.GetValues<JobStatus>())
        {
            foreach (var to in Enum.GetValues<JobStatus>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    public static TheoryData<JobStatus, JobAction> AllActions()
    {
        var data = new TheoryData<JobStatus, JobAction>();
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            foreach (var action in Enum.GetValues<JobAction>())
            {
                data.Add(status, action);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void IsAllowed_MatchesTheStateMachine(JobStatus from, JobStatus to)
    {
        var expected = ExpectedTransitions[from][(int)to] != '-';

        Assert.Equal(expected, JobTransitions.IsAllowed(from, to));
        Assert.Equal(expected, JobTransitions.From(from).Contains(to));
    }

    [Theory]
    [MemberData(nameof(AllActions))]
    public void Decide_MatchesTheActionTable(JobStatus status, JobAction action)
    {
        var expected = ExpectedActions[action][(int)status];

        var outcome = JobActions.Decide(status, action);

        switch (expected)
        {
            case "=":
                Assert.Equal(JobActionKind.AlreadyDone, outcome.Kind);
                Assert.Equal(status, outcome.Target);
                break;
            case "!":
                Assert.Equal(JobActionKind.Conflict, outcome.Kind);
                Assert.Equal(status, outcome.Target);
                break;
            default:
                Assert.Equal(JobActionKind.Transition, outcome.Kind);
                Assert.Equal(Enum.Parse<JobStatus>(expected[2..]), outcome.Target);
                Assert.True(JobTransitions.IsAllowed(status, outcome.Target));
                break;
        }
    }

    [Fact]
    public void Tables_CoverEveryStatusAndAction()
    {
        Assert.Equal(Enum.GetValues<JobStatus>().Length, ExpectedTransitions.Count);
        Assert.All(ExpectedTransitions.Values, row => Assert.Equal(Enum.GetValues<JobStatus>().Length, row.Length));
        Assert.Equal(Enum.GetValues<JobAction>().Length, ExpectedActions.Count);
        Assert.All(JobTransitions.All, s => Assert.NotNull(JobTransitions.From(s)));
    }

    [Theory]
    [InlineData(JobStatus.Queued, false)]
    [InlineData(JobStatus.Running, false)]
    [InlineData(JobStatus.Paused, false)]
    [InlineData(JobStatus.Cancelling, false)]
    [InlineData(JobStatus.Cancelled, true)]
    [InlineData(JobStatus.Completed, true)]
    [InlineData(JobStatus.Failed, true)]
    [InlineData(JobStatus.Killed, true)]
    [InlineData(JobStatus.Pausing, false)]
    public void IsTerminal_IsTrueExactlyForTheFourEndStates(JobStatus status, bool terminal)
    {
        Assert.Equal(terminal, JobTransitions.IsTerminal(status));
        Assert.Equal(!terminal, JobTransitions.IsActive(status));
    }

    [Fact]
    public void Statuses_KeepTheirPersistedNumbers()
    {
        // Stored in grain state and the journal: renumbering would corrupt existing jobs.
        int[] numbers = [.. Enum.GetValues<JobStatus>().Select(s => (int)s)];
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8], numbers);
        Assert.Equal(
            ["Queued", "Running", "Paused", "Cancelling", "Cancelled", "Completed", "Failed", "Killed", "Pausing"],
            Enum.GetNames<JobStatus>());
    }
}
