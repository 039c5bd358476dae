import { z } from "zod";

/** A TCP port in a settings file. */
export const Port = z.int().min(1).max(65535);
