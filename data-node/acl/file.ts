/** The ACL file and `user` lines: the shared parser and writer (shared/acl/file.ts). */
export { formatUsers, parseAclFile, parseUserWords } from "../../shared/acl/file.ts";
