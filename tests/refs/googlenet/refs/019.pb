B1/inception4a/branch4/branch4.1/conv/Conv_output_0J€3Y AT"A:”+AW(A$A óA¤J'A6ö%Aï=å@I
A¦Ac!Aí¶Ô@nÛÞ@½A^öAë@Áä-VÁÖNÁœLÁ™
?Á›[TÁKwLÁK—HÁ_!ÁnMÁ¬ºJÁ&áFÁo¼Á‘),Á¾:Á1^6ÁßbÖ@YºAAZA	í@rAîbAµ&Aï‘Ý@³2Aÿç
Aq‡A/IÉ@ÀéA÷•Am¥A7bJÀ‰2À=*AÀ,ÿ&ÀƒgJÀéi1À"ÑJÀ<>ÀvB]À‰7ÀS›†ÀÝ;…À;AÀÒÌQÀsM~ÀÇ%wÀ