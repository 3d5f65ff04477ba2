/**
 * fengari, loaded after its number routines were set to Lua 5.1's behaviour
 * (lua51_numbers.ts). Every module of the data node takes fengari from here.
 */
import "./lua51_numbers.ts";
import "./lua_strings.ts";
import fengari from "fengari";
import lobject from "fengari/src/lobject.js";
import lvm from "fengari/src/lvm.js";
import { installLua51Numbers } from "./lua51_numbers.ts";

installLua51Numbers(lobject, lvm);

export default fengari;
