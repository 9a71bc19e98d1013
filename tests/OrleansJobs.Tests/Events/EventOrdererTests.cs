using Microsoft.Extensions.Time.Testing;
using OrleansJobs.Events;

namespace OrleansJobs.Tests.Events;

public sealed class EventOrdererTests
{
    private static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(300);

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Offer_InOrder_DeliversEachAtOnce()
    {
        var orderer = new EventOrderer<long>(10, _time);

        Assert.Equal([10L], orderer.Offer(10, 10));
        Assert.Equal([11L], orderer.Offer(11, 11));
        Assert.Equal(12, orderer.Next);
        Assert.Null(orderer.GapDue(Gap));
    }

    [Fact]
    public void Offer_OutOfOrder_HoldsLaterIdsUntilTheMissingOneArrives()
    {
        var orderer = new EventOrderer<long>(1, _time);

        Assert.Empty(orderer.Offer(3, 3));
        Assert.Empty(orderer.Offer(2, 2));
        Assert.Equal([1L, 2L, 3L], orderer.Offer(1, 1));
        Assert.Equal(0, orderer.Waiting);
    }

    [Fact]
    public void Offer_DuplicatesAndIdsBelowTheStart_AreDropped()
    {
        var orderer = new EventOrderer<long>(5, _time);

        Assert.Empty(orderer.Offer(4, 4));
        Assert.Equal([5L], orderer.Offer(5, 5));
        Assert.Empty(orderer.Offer(5, 5));
        Assert.Empty(orderer.Offer(7, 7));
        Assert.Empty(orderer.Offer(7, 7));
        Assert.Equal(1, orderer.Waiting);
    }

    [Fact]
    public void GapDue_OnlyAfterTheTimeout_NamesTheMissingRange()
    {
        var orderer = new EventOrderer<long>(1, _time);
        orderer.Offer(4, 4);

        _time.Advance(Gap - TimeSpan.FromMilliseconds(1));
        Assert.Null(orderer.GapDue(Gap));
        Assert.Equal(TimeSpan.FromMilliseconds(1), orderer.UntilGapDue(Gap));
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal((1L, 4L), orderer.GapDue(Gap));
    }

    [Fact]
    public void Fill_DeliversWhatTheJournalHas_SkipsWhatItHasNot_ThenTheWaitingOnes()
    {
        var orderer = new EventOrderer<long>(1, _time);
        orderer.Offer(5, 5);
        orderer.Offer(6, 6);
        _time.Advance(Gap);

        // 2 and 4 committed; 1 and 3 never will be (an aborted batch, a skipped duplicate).
        var delivered = orderer.Fill([(4, 4), (2, 2)], to: 5);

        Assert.Equal([2L, 4L, 5L, 6L], delivered);
        Assert.Equal(7, orderer.Next);
        Assert.Null(orderer.GapDue(Gap));
        Assert.Empty(orderer.Offer(3, 3)); // too late: skipped for good
    }

    [Fact]
    public void Fill_WithANewerGapBehindTheFirst_RestartsItsClock()
    {
        var orderer = new EventOrderer<long>(1, _time);
        orderer.Offer(3, 3);
        orderer.Offer(6, 6);
        _time.Advance(Gap);

        Assert.Equal([2L, 3L], orderer.Fill([(2, 2)], to: 3));

        Assert.Null(orderer.GapDue(Gap));
        _time.Advance(Gap);
        Assert.Equal((4L, 6L), orderer.GapDue(Gap));
    }
}
