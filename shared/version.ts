/** The Redis version whose behaviour, replies and formats this project reproduces. */
export const REDIS_VERSION = "7.0.15";
