namespace InferenceServer.Engine.Scheduling;

public enum SequenceStatus
{
    Waiting,
    Running,
    Finished,
}
